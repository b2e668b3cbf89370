def init_context(context):
    context.user_data.model = None


def handler(context, event):
    return context.Response(body="{}", content_type="application/json", status_code=200)
