import Foundation
import Testing
import TesseraPostgres

@Suite struct PostgresValueTests {
    @Test func timestampsRoundTripToTheMicrosecond() {
        let date = Date(timeIntervalSince1970: 1_764_063_471.123456)
        let text = PostgresTimestamp.format(date)
        #expect(text == "2025-11-25 09:37:51.123456+00:00")
        let parsed = PostgresTimestamp.parse(text)!
        #expect(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) < 1e-6)
        #expect(PostgresTimestamp.parse("2026-11-25 10:00:00+00")!.timeIntervalSince1970 == 1_795_600_800)
        #expect(PostgresTimestamp.parse("2026-11-25 12:00:00+02")!.timeIntervalSince1970 == 1_795_600_800)
        #expect(PostgresTimestamp.parse("not a time") == nil)
    }

    @Test func arraysQuoteAndEscapeEveryElement() {
        #expect(PostgresArray(["a", "b\"c", "d\\e", "{x,y}"]).postgresText == #"{"a","b\"c","d\\e","{x,y}"}"#)
        #expect(PostgresArray([1, 2]).postgresText == #"{"1","2"}"#)
        #expect(PostgresArray([String]()).postgresText == "{}")
    }

    @Test func connectionLossIsRecognised() {
        #expect(PostgresError.connection("x").isConnectionLoss)
        #expect(PostgresError.server(sqlState: "57P01", message: "terminating", detail: nil, hint: nil).isConnectionLoss)
        #expect(!PostgresError.server(sqlState: "23514", message: "check", detail: nil, hint: nil).isConnectionLoss)
    }
}
