"""``python -m neurodeploy``: the CLI, also as torchrun launches it (``torchrun -m neurodeploy train CONFIG``)."""
from neurodeploy.app.cli import main

if __name__ == "__main__":
    main()
