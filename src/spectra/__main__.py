from spectra.cli.main import main

main()
