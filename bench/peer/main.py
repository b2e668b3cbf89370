"""The no-op handler again, as a functions-framework (Google Cloud Functions) function: the
peer the harness runtime's round trip is compared with."""


def noop(request):
    return "[]", 200, {"Content-Type": "application/json"}
