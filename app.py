"""The Chalice app: one middleware, the REST and scheduled blueprints, the WebSocket handlers. Nothing else.

Cold start: nothing here imports boto3, psycopg, redis, httpx or powertools; handlers import
what they use. `app.websocket_api.session` is a lazy stand-in that imports boto3 only if
Chalice's own `websocket_api.send` is ever used (our replies go through chalicelib.transport.push).
"""

from chalice import Chalice

from chalicelib.handlers import ws
from chalicelib.handlers.rest import rest
from chalicelib.handlers.scheduled import scheduled
from chalicelib.observability import observe
from chalicelib.transport.push import LazyBotoSession
from chalicelib.webhooks.handlers import webhooks

# configure_logs=False: Chalice would add a plain-text handler to the "funding-rate-service" logger,
# the one the powertools Logger (same service name) writes JSON through, duplicating every line.
app = Chalice(app_name="funding-rate-service", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])  # chalice 1.34 still flags WebSocket APIs as experimental
app.websocket_api.session = LazyBotoSession()
app.register_middleware(observe, "all")
app.register_blueprint(rest)
app.register_blueprint(scheduled)
app.register_blueprint(webhooks)  # /api/v1/webhooks, the delivery-queue consumer, the sweep

# On the app, not a blueprint (see chalicelib/handlers/ws.py); Lambda handler strings are app.ws_*.
ws_connect = app.on_ws_connect()(ws.ws_connect)
ws_message = app.on_ws_message()(ws.ws_message)
ws_disconnect = app.on_ws_disconnect()(ws.ws_disconnect)
