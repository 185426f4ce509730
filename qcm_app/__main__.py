from qcm_app.cli import main

raise SystemExit(main())
