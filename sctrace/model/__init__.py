"""What every stage shares: the Trace value and its files, system calls, constants, addresses, escaping."""
