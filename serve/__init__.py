"""churnml's HTTP scoring API (FastAPI): ``serve.app.create_app``, run by ``churnml serve``."""
