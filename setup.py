"""Build of the optional native helpers (everything else is in pyproject.toml).

``lawful_intercept.protection._crypto`` links OpenSSL's libcrypto (headers: libssl-dev);
``lawful_intercept.codec.handover._ccitems``, ``lawful_intercept.codec.handover._ccread`` and
``lawful_intercept.codec.x2x3._viewcheck`` need only Python's headers. All are optional: without
a compiler or the headers the build goes on and the package uses its pure-Python paths (same
octets, slower); ``LI_PURE_PYTHON=1`` forces those paths (``lawful_intercept._native``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lawful_intercept.protection._crypto",
            ["lawful_intercept/protection/_crypto.c"],
            libraries=["crypto"],
            optional=True,
        ),
        Extension(
            "lawful_intercept.codec.handover._ccitems",
            ["lawful_intercept/codec/handover/_ccitems.c"],
            optional=True,
        ),
        Extension(
            "lawful_intercept.codec.handover._ccread",
            ["lawful_intercept/codec/handover/_ccread.c"],
            optional=True,
        ),
        Extension(
            "lawful_intercept.codec.x2x3._viewcheck",
            ["lawful_intercept/codec/x2x3/_viewcheck.c"],
            optional=True,
        ),
    ]
)
