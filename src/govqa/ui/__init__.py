"""The Streamlit app's pages; app.py at the repository root is the script `streamlit run` starts.

Like the CLI and the HTTP server, the pages reach the library only through govqa.engine, records, errors
and serialize.
"""
