"""Model deployment: one service over two targets (local MLServer, KServe), plus batch scoring."""
