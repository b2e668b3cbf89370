"""Broken on purpose: load_model was left empty, so every request raises in the handler
(AttributeError on None). Robustness must blame that, not a malformed request before it, and
the failure must show the exception once, from this file's frames."""


def load_model():
    return None  # not written yet


def init_context(context):
    context.user_data.model = load_model()
    context.logger.info_with("model loaded", weights="weights/model.onnx", classes=1)


def detect(model, body):
    return model.infer(body)


def handler(context, event):
    context.logger.info_with("detecting", size=len(event.body), threshold=0.5)
    return detect(context.user_data.model, event.body)
