from mlcl_train.cli import main

main()
