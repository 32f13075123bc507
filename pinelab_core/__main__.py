import sys

from pinelab_core.cli import main

sys.exit(main())
