def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives the app in a real headless Chromium (skipped without one)")
