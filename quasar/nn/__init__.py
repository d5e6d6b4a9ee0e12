"""``quasar.nn``: modules, layers and losses, named as in ``torch.nn``.

    model = qs.nn.Sequential(qs.nn.Linear(64, 128), qs.nn.ReLU(), qs.nn.Linear(128, 10))
    loss = qs.nn.CrossEntropyLoss()(model(x), y)
"""

from . import functional, init, parallel, utils  # noqa: F401
from .containers import Identity, ModuleDict, ModuleList  # noqa: F401
from .layers import (  # noqa: F401
    GELU, MLP, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, LayerNorm, Linear, MSELoss, NLLLoss, ReLU,
    Sequential, Sigmoid, Tanh,
)
from .module import Module, Parameter  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401,E402
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d  # noqa: F401,E402
from .pooling import (  # noqa: F401,E402
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, MaxUnpool2d,
)
from .spatial import (  # noqa: F401,E402
    Dropout2d, Flatten, PixelShuffle, ReflectionPad2d, ReplicationPad2d, Unflatten, Upsample, ZeroPad2d,
)
from .attention import MultiheadAttention  # noqa: F401
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401
from .transformer import TransformerEncoder, TransformerEncoderLayer  # noqa: F401
