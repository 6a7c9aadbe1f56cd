from custodes.cli import main

main()
