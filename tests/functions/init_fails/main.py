def init_context(context):
    context.logger.info("loading model weights")
    raise FileNotFoundError("model.xml is missing from the function directory")


def handler(context, event):
    return "never"
