import TesseraCLI

await TesseraCommand.runMain()
