"""``python -m quasar``: the version and how this installation was built and will run."""

import quasar


def main() -> None:
    print(f"quasar {quasar.__version__}")
    quasar.show_config()


if __name__ == "__main__":
    main()
