from drivenet.cli import main

main()
