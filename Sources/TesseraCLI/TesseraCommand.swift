import ArgumentParser
public struct TesseraCommand: AsyncParsableCommand { public init() {} public func run() async throws {} }
