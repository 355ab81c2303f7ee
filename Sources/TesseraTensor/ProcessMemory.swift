import Foundation

/// This process's memory, for benchmarks that quote peak RSS.
public enum ProcessMemory {
    /// Resident set size now (from /proc/self/statm), or nil where that is unreadable.
    public static func currentRSSBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Peak resident set size: `VmHWM` of /proc/self/status. Not `getrusage`'s `ru_maxrss`, which a spawned
    /// child inherits from its parent across exec (measured: every `bench dit` case reported the parent's
    /// 290 MiB).
    public static func peakRSSBytes() -> Int {
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        {
            return kilobytes * 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    /// Sets the peak RSS (`VmHWM`) back to the resident size now, through `/proc/self/clear_refs` (Linux 4.0
    /// and later), so memory a benchmark used for its own measuring and gave back is not counted as the
    /// peak of what it measures next. False where the kernel refuses it.
    @discardableResult
    public static func resetPeakRSS() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }
}
