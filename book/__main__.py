import sys

from book.build import main

sys.exit(main())
