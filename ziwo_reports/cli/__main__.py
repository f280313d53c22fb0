"""`python -m ziwo_reports.cli`, as `ziwo-reports`."""

import sys

from ziwo_reports.cli import main

sys.exit(main())
