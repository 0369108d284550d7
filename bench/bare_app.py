"""The bare endpoint bench/webhooks.py compares the webhook route with: a Flask app whose one
route reads the body and answers 200, served by gunicorn with the demo's settings."""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import request

app = Flask(__name__)


@app.post("/bare")
def bare() -> Response:
    request.get_data(cache=False)
    return Response(b"", status=200)
