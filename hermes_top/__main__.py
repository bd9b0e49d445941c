from hermes_top.cli import main

raise SystemExit(main())
