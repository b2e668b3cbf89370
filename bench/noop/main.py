import json


def handler(context, event):
    return context.Response(body=json.dumps([]), content_type="application/json")
