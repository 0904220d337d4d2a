"""The yardstick: a bare Flask app rendering a small Jinja template, nothing else."""

from flask import Flask, render_template_string

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1>
<ul>{% for item in items %}<li><a href="/item/{{ item.id }}">{{ item.name }}</a> {{ item.price }}</li>{% endfor %}</ul>
</body></html>
"""

ITEMS = [{"id": n, "name": f"Service {n}", "price": f"{20 + n},00 €"} for n in range(1, 6)]

app = Flask(__name__)


@app.get("/")
def index():
    return render_template_string(PAGE, title="Studio", items=ITEMS)
