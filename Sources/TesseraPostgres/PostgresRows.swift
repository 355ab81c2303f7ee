import Foundation

/// The rows a statement returned, copied out of libpq so no C pointer outlives the call.
public struct PostgresRows: Sendable {
    /// Column names, in order.
    public let columns: [String]
    /// Each row's values as text, nil for NULL.
    public let values: [[String?]]
    /// For INSERT/UPDATE/DELETE: the number of rows affected.
    public let affected: Int

    public init(columns: [String], values: [[String?]], affected: Int) {
        self.columns = columns
        self.values = values
        self.affected = affected
    }

    /// The rows, each with named access.
    public var rows: [PostgresRow] {
        let index = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return values.map { PostgresRow(index: index, values: $0) }
    }

    /// The single row, or nil when there is none.
    public var first: PostgresRow? { rows.first }
}

/// One row with typed accessors by column name. Accessors throw on a missing column or a bad value.
public struct PostgresRow: Sendable {
    let index: [String: Int]
    /// The values as text, nil for NULL.
    public let values: [String?]

    /// The raw text of a column, nil for NULL.
    public func text(_ column: String) throws -> String? {
        guard let i = index[column] else { throw PostgresError.decoding("no column \(column)") }
        return values[i]
    }

    public func string(_ column: String) throws -> String {
        guard let value = try text(column) else { throw PostgresError.decoding("\(column) is NULL") }
        return value
    }

    public func optionalString(_ column: String) throws -> String? { try text(column) }

    public func int(_ column: String) throws -> Int {
        guard let value = try optionalInt(column) else { throw PostgresError.decoding("\(column) is NULL") }
        return value
    }

    public func optionalInt(_ column: String) throws -> Int? {
        guard let raw = try text(column) else { return nil }
        guard let value = Int(raw) else { throw PostgresError.decoding("\(column) = \(raw) is not an integer") }
        return value
    }

    public func double(_ column: String) throws -> Double {
        guard let value = try optionalDouble(column) else { throw PostgresError.decoding("\(column) is NULL") }
        return value
    }

    public func optionalDouble(_ column: String) throws -> Double? {
        guard let raw = try text(column) else { return nil }
        guard let value = Double(raw) else { throw PostgresError.decoding("\(column) = \(raw) is not a number") }
        return value
    }

    public func bool(_ column: String) throws -> Bool {
        guard let raw = try text(column) else { throw PostgresError.decoding("\(column) is NULL") }
        return raw == "t" || raw == "true"
    }

    public func date(_ column: String) throws -> Date {
        guard let value = try optionalDate(column) else { throw PostgresError.decoding("\(column) is NULL") }
        return value
    }

    public func optionalDate(_ column: String) throws -> Date? {
        guard let raw = try text(column) else { return nil }
        guard let value = PostgresTimestamp.parse(raw) else {
            throw PostgresError.decoding("\(column) = \(raw) is not a timestamp")
        }
        return value
    }
}
