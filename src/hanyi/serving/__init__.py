"""`hanyi serve`: a FastAPI app (JSON API + web page) around one loaded Translator.

app.py builds the app, schemas.py defines the request/response bodies and limits,
batching.py runs the model off the event loop with a bounded queue and dynamic batching,
convert.py turns translations into JSON, static/ holds the page. Import needs the
``serve`` extra (fastapi, uvicorn, swagger-ui-bundle).
"""

from hanyi.serving.app import create_app

__all__ = ["create_app"]
