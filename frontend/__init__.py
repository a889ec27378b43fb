"""The web frontend: Jinja pages rendered over the platform's JSON API, live updates by Socket.IO.

It owns no data. Every page calls the services over HTTP (``API_URL``) with the user's access
token, which the browser keeps in an HttpOnly cookie.
"""
