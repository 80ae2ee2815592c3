"""The ceiling: a bare Flask endpoint returning a fixed small JSON, served like the service."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, object]:
    return {"success": True, "status": "ok"}
