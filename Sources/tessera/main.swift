import TesseraCLI

await TesseraCommand.main()
