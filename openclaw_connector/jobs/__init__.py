"""Job watching: follow each started job to its outcome and send the result to its chat."""
