"""The declared boundary: one pydantic model per request body, query string and response.

``fields`` holds the limits and constrained types, ``base`` the glue to Flask (parse a
request into a model, a 400 naming each bad field, dump a response, the OpenAPI
components), ``api`` the models of /api/v1 and ``agent`` those of the agent protocol.
Importing this package imports none of them (services read ``fields``).
"""
