from plnfilter.cli import main

main()
