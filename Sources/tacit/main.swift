import TacitCLI

await Tacit.commandLineMain()
