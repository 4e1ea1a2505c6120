import sys

from vsdpo.cli import main

sys.exit(main())
