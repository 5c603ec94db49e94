from flashport.cli import main

main()
