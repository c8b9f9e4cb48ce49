"""bench/coldstart.py's reference: the smallest Chalice route Lambda (one route returning a JSON body)."""

from chalice import Chalice, Response

app = Chalice(app_name="bare")
BODY = '{"source":"memory","data":[' + ",".join('{"dex":"x","rate":0.0001}' for _ in range(400)) + "]}"


@app.route("/api/v1/funding-rates")
def rates() -> Response:
    return Response(body=BODY, status_code=200, headers={"Content-Type": "application/json"})
