import CCurl

/// The one Swift owner of libcurl. The S3 client (issue 5) lives in this target; for now it reports the
/// linked version and whether SigV4 signing is available.
public enum Curl {
    /// The libcurl version string, for example "7.88.1".
    public static var version: String {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH) else { return "unknown" }
        return String(cString: info.pointee.version)
    }
}
