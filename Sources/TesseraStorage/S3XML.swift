/// Just enough XML for S3's answers, which are flat documents of known elements (`<Key>`, `<Size>`,
/// `<UploadId>`, `<Code>`, ...): no namespaces to honour, no mixed content, no nesting of an element in
/// itself. Pulling Foundation's XMLParser (and libxml2) in for this would add a second C library owner.
enum S3XML {
    /// The raw inner text of each `<tag>…</tag>` (or `<tag attr=…>…</tag>`), in document order.
    static func elements(_ tag: String, in xml: Substring) -> [Substring] {
        var results: [Substring] = []
        var rest = xml[...]
        let close = "</\(tag)>"
        while let open = rest.range(of: "<\(tag)") {
            let afterName = open.upperBound
            guard afterName < rest.endIndex else { break }
            let next = rest[afterName]
            guard next == ">" || next == " " || next == "/" else {
                rest = rest[afterName...]  // a longer tag name that starts with this one
                continue
            }
            guard let end = rest[afterName...].firstIndex(of: ">") else { break }
            if rest[rest.index(before: end)] == "/" {  // <tag/>
                results.append(rest[end..<end])
                rest = rest[rest.index(after: end)...]
                continue
            }
            let contentStart = rest.index(after: end)
            guard let closing = rest[contentStart...].range(of: close) else { break }
            results.append(rest[contentStart..<closing.lowerBound])
            rest = rest[closing.upperBound...]
        }
        return results
    }

    /// The decoded text of the first `<tag>`, or nil.
    static func value(_ tag: String, in xml: Substring) -> String? {
        elements(tag, in: xml).first.map { decode($0) }
    }

    static func value(_ tag: String, in xml: String) -> String? { value(tag, in: xml[...]) }

    /// Replaces the five named entities and numeric character references.
    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else {
                result += rest[amp...]
                return result
            }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": result += "&"
            case "lt": result += "<"
            case "gt": result += ">"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst(), radix: 10) : nil
                if let number, let scalar = Unicode.Scalar(number) {
                    result.unicodeScalars.append(scalar)
                } else {
                    result += rest[amp...semicolon]
                }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }

    /// Escapes text for an element's content.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
