"""Support shared by the tests, the benchmarks and the demo: free ports, a private broker, a throwaway
PostgreSQL, and the bag clip on real footage."""
