"""Offline API docs: one self-contained HTML page rendered from the OpenAPI document (no CDN, no fetches
except the API itself from the inline "try it" forms)."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

from chalicelib.api.asyncapi import document as asyncapi
from chalicelib.api.openapi import document

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f7f8fa}
header{background:#1d2330;color:#fff;padding:16px 24px}main{max-width:1100px;margin:auto;padding:16px 24px}
nav a{margin-right:12px}section.op{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:14px 0;padding:12px 16px}
.m{font-weight:700;padding:2px 8px;border-radius:4px;color:#fff;background:#2b6cb0;margin-right:8px}.m.put{background:#b7791f}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f0f2f5;padding:8px;overflow:auto;max-height:420px}
table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border-bottom:1px solid #eceff3;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f6f8}input{width:95%}button{margin-top:6px}.desc{white-space:pre-wrap}"""

_JS = """function tryIt(form){const path=form.dataset.path,method=form.dataset.method;let url=path;const q=new URLSearchParams();
for(const el of form.querySelectorAll('input[data-in]')){if(!el.value)continue;
if(el.dataset.in==='path'){url=url.replace('{'+el.name+'}',encodeURIComponent(el.value));}else{q.append(el.name,el.value);}}
const qs=q.toString();if(qs)url+='?'+qs;const opts={method:method,headers:{}};const body=form.querySelector('textarea');
const key=form.querySelector('input[name=x-api-key]');if(key&&key.value)opts.headers['X-API-Key']=key.value;
if(body&&body.value){opts.body=body.value;opts.headers['Content-Type']='application/json';}
const out=form.querySelector('pre');out.textContent=method+' '+url+' ...';
fetch(url,opts).then(r=>r.text().then(t=>{let s=t;try{s=JSON.stringify(JSON.parse(t),null,2)}catch(e){}
out.textContent=r.status+' '+method+' '+url+'\\n'+s;})).catch(e=>{out.textContent='failed: '+e});return false;}"""


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if schema.get("type") == "object" and "additionalProperties" in schema and isinstance(
            schema["additionalProperties"], dict):
        return f"map of {_type(schema['additionalProperties'])}"
    return str(schema.get("type", "any")) + (f" ({schema['format']})" if "format" in schema else "")


def _bounds(schema: dict[str, Any]) -> str:
    names = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "pattern", "maxItems", "default")
    return ", ".join(f"{n}={schema[n]}" for n in names if n in schema)


def _params(op: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{p['in']}</td><td>{escape(_type(p['schema']))}</td>"
        f"<td>{'yes' if p.get('required') else ''}</td><td>{escape(_bounds(p['schema']))}</td>"
        f"<td>{escape(p.get('description', ''))}</td></tr>" for p in op.get("parameters", []))
    head = "<tr><th>name</th><th>in</th><th>type</th><th>required</th><th>constraints</th><th>description</th></tr>"
    return f"<table>{head}{rows}</table>" if rows else "<p>No parameters.</p>"


def _try_form(path: str, method: str, op: dict[str, Any]) -> str:
    inputs = "".join(
        f"<label><code>{escape(p['name'])}</code> ({p['in']})<input name='{escape(p['name'])}' data-in='{p['in']}'"
        f" placeholder='{escape(str(p['schema'].get('default', '')))}'></label>" for p in op.get("parameters", []))
    if "requestBody" in op:
        inputs += ("<label>X-API-Key<input name='x-api-key' type='password'></label>"
                   "<label>JSON body<textarea rows=4 style='width:95%'></textarea></label>")
    return (f"<details><summary>Try it</summary><form data-path='{escape(path)}' data-method='{method.upper()}'"
            f" onsubmit='return tryIt(this)'>{inputs}<button>Send</button><pre></pre></form></details>")


def _schema_table(name: str, schema: dict[str, Any]) -> str:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>{escape(_type(v))}</td><td>{'yes' if k in required else ''}</td>"
        f"<td>{escape(v.get('description', ''))}</td></tr>" for k, v in props.items())
    return (f"<section class=op id='schema-{escape(name)}'><h3>{escape(name)}</h3>"
            f"<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>{rows}</table></section>")


@lru_cache(maxsize=1)
def page() -> str:
    doc = document()
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            responses = ", ".join(
                f"{code} {_type(r['content']['application/json']['schema'])}" for code, r in op["responses"].items())
            ops.append(
                f"<section class=op id='{op['operationId']}'><h3><span class='m {method}'>{method.upper()}</span>"
                f"<code>{escape(path)}</code></h3><p>{escape(op['summary'])}</p>"
                f"<p class=desc>{escape(op.get('description', ''))}</p>{_params(op)}"
                f"<p><b>Responses:</b> {escape(responses)}</p>{_try_form(path, method, op)}</section>")
    schemas = "".join(_schema_table(n, s) for n, s in doc["components"]["schemas"].items())
    ws = asyncapi()
    frames = "".join(f"<li><code>{escape(name)}</code></li>" for name in ws["components"]["messages"])
    channels = "".join(f"<li><code>{escape(c['address'])}</code>: {escape(c['description'])}</li>"
                       for c in ws["channels"].values())
    ws_schemas = "".join(_schema_table(n, s) for n, s in ws["components"]["schemas"].items()
                         if n not in doc["components"]["schemas"])
    unit_rows = "".join(f"<tr><td><code>{escape(k)}</code></td><td>{escape(v)}</td></tr>" for k, v in doc["x-units"].items())
    info = doc["info"]
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(info['title'])} API</title>"
            f"<style>{_CSS}</style></head><body><header><h1>{escape(info['title'])} <small>v{info['version']}</small>"
            f"</h1><nav><a style='color:#fff' href='/api/v1/openapi.json'>openapi.json</a>"
            f"<a style='color:#fff' href='/api/v1/asyncapi.json'>asyncapi.json (WebSocket)</a></nav></header><main>"
            f"<p class=desc>{escape(info['description'])}</p><h2>Units</h2><table><tr><th>x-unit</th><th>meaning</th>"
            f"</tr>{unit_rows}</table><h2>Endpoints</h2>{''.join(ops)}"
            f"<h2 id=websocket>WebSocket</h2><p class=desc>{escape(ws['info']['description'])}</p><ul>{channels}</ul>"
            f"<p>Messages and frames:</p><ul>{frames}</ul>{ws_schemas}<h2>Schemas</h2>{schemas}"
            f"</main><script>{_JS}</script></body></html>")
