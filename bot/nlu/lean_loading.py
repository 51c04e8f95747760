"""Load DIET's weights for answering only: half the Rasa process's memory.

Rasa 3.6 builds a saved TensorFlow model (`RasaModel.load`) by *training it on one example*
(`model.fit`) so that every weight exists, and only then reads the trained weights over
them. That one step builds the whole training graph - gradients, the optimizer and its
two slots per weight - and keeps it: loading the assistant's DIET took the Rasa process
from 558 to 1,182 MB, for a 45 MB model (measured with psutil around each component's load).

Answering needs none of it. `lean_load` builds the weights by running one prediction
eagerly, reads the trained weights (TensorFlow's checkpoints match weights by their place
in the model, not by the order they were made in), and only then traces the prediction
graph, so that the graph captures the trained label embeddings. If any weight the model
made is not found in the checkpoint it falls back to Rasa's own way, so a model this does
not fit still loads as before. Predictions are the same to the last digit
(`tests/nlu/test_lean_loading.py` compares both loads of the trained model), and the Rasa
process holds about 740 MB instead of 1,230 MB with the model loaded (bench/reports/
performance.md). Training and fine-tuning (`finetune_mode`) are untouched.

`install()` is called by the Rasa server (`bot.assistant.serve`) before it loads the model.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

log = logging.getLogger(__name__)
_stock_load: Any = None


def lean_load(
    cls: Any,
    model_file_name: str,
    model_data_example: Any,
    predict_data_example: Optional[Any] = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """`RasaModel.load` for a model that will only predict; Rasa's own otherwise."""

    def stock() -> Any:
        return _stock_load.__func__(
            cls,
            model_file_name,
            model_data_example,
            predict_data_example,
            finetune_mode,
            *args,
            **kwargs,
        )

    if finetune_mode or predict_data_example is None:
        return stock()
    model = cls(*args, **kwargs)
    model.compile(run_eagerly=True)  # eager: the weights are made, no graph is traced yet
    model.run_inference(predict_data_example)
    status = model.load_weights(model_file_name)
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        log.warning("%s: a weight is not in the checkpoint; loading it Rasa's way", cls.__name__)
        return stock()
    status.expect_partial()  # the optimizer's slots are in the file; answering needs none
    # The label embeddings were computed from the untrained weights: compute them again,
    # then trace the prediction graph once (as Rasa does) so the first message is quick.
    model.prepared_for_prediction = False
    model.compile(run_eagerly=kwargs.get("config", {}).get("run_eagerly"))
    model.run_inference(predict_data_example)
    return model


def install() -> None:
    """Make every `RasaModel` of this process load for answering only (idempotent)."""
    global _stock_load
    from rasa.utils.tensorflow.models import RasaModel

    if _stock_load is None:
        _stock_load = RasaModel.__dict__["load"]
        RasaModel.load = classmethod(lean_load)  # type: ignore[assignment, method-assign]


def uninstall() -> None:
    """Rasa's own loading again (tests compare the two)."""
    global _stock_load
    from rasa.utils.tensorflow.models import RasaModel

    if _stock_load is not None:
        RasaModel.load = _stock_load  # type: ignore[method-assign]
        _stock_load = None
