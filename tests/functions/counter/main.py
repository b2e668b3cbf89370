"""Answers with the number of calls its handler has had, this one included."""


def init_context(context):
    context.user_data.calls = 0


def handler(context, event):
    context.user_data.calls += 1
    return {"calls": context.user_data.calls, "path": event.path}
