// One DiT benchmark case in a process that links the engine alone (the child of `tessera bench dit`).
import Foundation
import TesseraModels

do {
    print(try DiTForwardCase.main(arguments: Array(CommandLine.arguments.dropFirst())))
} catch {
    FileHandle.standardError.write(Data("tessera-dit-case: \(error)\n".utf8))
    exit(1)
}
