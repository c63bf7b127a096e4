"""WSGI entry point: eventlet must patch the standard library before anything else loads."""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from participation import create_app  # noqa: E402

app = create_app()
