"""The errors nbhelpers raises. Each message names the problem and the fix."""

from __future__ import annotations


class NbhelpersError(Exception):
    """Base class for every error raised by nbhelpers."""


class ModelNotFoundError(NbhelpersError, FileNotFoundError):
    """A model folder does not exist."""


class ModelNotReadyError(NbhelpersError):
    """A model folder exists but is incomplete (an interrupted export or copy)."""


class UnknownModelError(NbhelpersError, ValueError):
    """A model name that the registry does not know."""


class OfflineError(NbhelpersError):
    """A hub model was asked for while offline mode is on."""


class DeviceNotAvailableError(NbhelpersError, ValueError):
    """An OpenVINO device name that this machine does not have."""


class EmptyPromptError(NbhelpersError, ValueError):
    """A prompt that is empty or only white space."""


class AudioError(NbhelpersError, ValueError):
    """Audio that cannot be turned into 16 kHz mono float32 samples (empty, unreadable, not audio)."""


class ImageError(NbhelpersError, ValueError):
    """An image that cannot be read or turned into RGB pixels (missing file, not an image, wrong shape)."""


class ServerError(NbhelpersError, RuntimeError):
    """A lesson server that did not start (its log's last lines are in the message)."""


class ImageRequestError(NbhelpersError, ValueError):
    """An image-generation request a pipeline would reject obscurely or, worse, accept (size, steps, mask)."""
