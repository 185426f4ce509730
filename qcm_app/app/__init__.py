"""The application: controller, session, the one settings store, the command line."""
