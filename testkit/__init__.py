"""Support shared by the tests, the benchmarks and the demo: free ports and a throwaway PostgreSQL."""
