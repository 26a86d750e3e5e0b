"""Installed by `tf run` (TameFlare) ahead of the agent's PYTHONPATH.

Some official SDKs verify TLS against a CA bundle they ship instead of the one
the environment names (SSL_CERT_FILE), so they would reject the gateway's
interception certificate even though `tf run` points every runtime at it.
This hook points those SDKs at SSL_CERT_FILE when they are imported:

- stripe: `stripe.ca_bundle_path`

It changes nothing else, and then runs the `sitecustomize` the agent would
have loaded without us, if there is one.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

_PATCHES = {
    "stripe": lambda module, bundle: setattr(module, "ca_bundle_path", bundle),
}


class _TameFlareCaHook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        patch = _PATCHES.get(fullname)
        bundle = os.environ.get("SSL_CERT_FILE")
        if patch is None or not bundle:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module, bundle)

        spec.loader.exec_module = exec_and_patch
        return spec


sys.meta_path.insert(0, _TameFlareCaHook())


def _chain_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_chain_sitecustomize()
